package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode"

	"github.com/kycreview/kycreview"
)

// Message is one rendered email.
type Message struct {
	To      string // the recipient's address
	ToName  string // their full name, if any
	Subject string
	Text    string // the text/plain part
	HTML    string // the text/html part
}

// SessionLink is the console's page of a session, under the service's
// public URL (scheme, host and optional path prefix).
func SessionLink(publicURL, sessionID string) string {
	return strings.TrimSuffix(publicURL, "/") + "/console/sessions/" + url.PathEscape(sessionID)
}

// view is what the templates see.
type view struct {
	Greeting    string
	Actor       string
	Application string
	Number      int64
	SessionID   string
	Comment     string
	HasComment  bool
	Status      string
	Link        string
}

// The HTML part goes through html/template, which escapes every value for
// where it stands: a comment holding markup shows as text, and cannot add
// elements, attributes or links to the email.
var htmlTemplate = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Mentioned on session #{{.Number}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>Hi {{.Greeting}},</p>
<p><strong>{{.Actor}}</strong> mentioned you on session <strong>#{{.Number}}</strong> of {{.Application}}{{if .Status}}, setting its status to <strong>{{.Status}}</strong>{{end}}:</p>
{{if .HasComment}}<blockquote style="white-space: pre-wrap; border-left: 3px solid #ccc; margin: 0 0 1em; padding-left: 1em">{{.Comment}}</blockquote>
{{end}}<p><a href="{{.Link}}">Open session #{{.Number}} in the console</a></p>
<p style="color: #666; font-size: smaller">Session {{.SessionID}}. You receive this email because you are a console user of {{.Application}} and were @mentioned in a comment.</p>
</body>
</html>
`))

var textTemplate = texttemplate.Must(texttemplate.New("text").Parse(`Hi {{.Greeting}},

{{.Actor}} mentioned you on session #{{.Number}} of {{.Application}}{{if .Status}}, setting its status to {{.Status}}{{end}}:
{{if .HasComment}}
{{.Comment}}
{{end}}
Open the session in the console:
{{.Link}}

Session {{.SessionID}}. You receive this email because you are a console user of {{.Application}} and were @mentioned in a comment.
`))

// Render renders the email for a claimed notification. publicURL is where
// the console is reached.
func Render(n kycreview.ClaimedNotification, publicURL string) (Message, error) {
	v := view{
		Greeting:    n.FullName,
		Actor:       oneLine(n.Actor),
		Application: oneLine(n.Application),
		Number:      n.SessionNumber,
		SessionID:   n.SessionID,
		Link:        SessionLink(publicURL, n.SessionID),
	}
	if v.Greeting == "" {
		v.Greeting = n.Email
	}
	v.Greeting = oneLine(v.Greeting)
	if n.Comment != nil {
		v.Comment, v.HasComment = *n.Comment, true
	}
	if n.NewStatus != nil {
		v.Status = string(*n.NewStatus)
	}
	var text, html bytes.Buffer
	if err := textTemplate.Execute(&text, v); err != nil {
		return Message{}, err
	}
	if err := htmlTemplate.Execute(&html, v); err != nil {
		return Message{}, err
	}
	return Message{
		To:      n.Email,
		ToName:  oneLine(n.FullName),
		Subject: fmt.Sprintf("[%s] %s mentioned you on session #%d", v.Application, v.Actor, n.SessionNumber),
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// oneLine is s with every control character (line breaks included) turned
// into a space: names go into the subject and other one-line places.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
