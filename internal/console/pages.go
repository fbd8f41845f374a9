package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

// Page sizes.
const (
	queuePageSize        = 25
	notificationPageSize = 50
)

var funcs = template.FuncMap{
	"statusClass": func(s kycreview.Status) string {
		return "st-" + strings.ReplaceAll(strings.ToLower(string(s)), " ", "-")
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"deref2": func(s *kycreview.Status) kycreview.Status {
		if s == nil {
			return ""
		}
		return *s
	},
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"signin", "queue", "session", "notifications", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes page name into a buffer (so a template error is a clean
// 500, not half a page) with the layout's data added: the signed-in user,
// their unread count and the CSRF token.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, name string, data map[string]any) {
	if s := current(r.Context()); s.User.ID != "" {
		data["Me"] = s.User
		if _, ok := data["CSRF"]; !ok {
			data["CSRF"] = s.Session.CSRF
		}
		if _, ok := data["Unread"]; !ok {
			if in, err := h.svc.Notifications(r.Context(), s.User.ID, 0, 0); err == nil {
				data["Unread"] = in.Unread
			}
		}
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// pageNumber reads ?page=, 1 by default.
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// statusTab is one status filter of the queue, with its count.
type statusTab struct {
	Status  kycreview.Status
	Count   int
	Current bool
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request) {
	me := current(r.Context()).User
	st := kycreview.Status(r.URL.Query().Get("status"))
	if st == "" || !st.Valid() {
		st = kycreview.StatusInReview
	}
	page := pageNumber(r)
	q, err := h.svc.ConsoleQueue(r.Context(), me.ID, st, queuePageSize, (page-1)*queuePageSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var tabs []statusTab
	for _, s := range kycreview.Statuses() {
		tabs = append(tabs, statusTab{Status: s, Count: q.Counts[s], Current: s == st})
	}
	pages := max(1, (q.Count+queuePageSize-1)/queuePageSize)
	link := func(p int) string {
		v := url.Values{"status": {string(st)}, "page": {strconv.Itoa(p)}}
		return Prefix + "?" + v.Encode()
	}
	data := map[string]any{
		"Title": "Queue", "Status": st, "Tabs": tabs, "Queue": q, "Page": page, "Pages": pages,
		"NoApps": len(q.Apps) == 0,
	}
	if page > 1 {
		data["PrevURL"] = link(page - 1)
	}
	if page < pages {
		data["NextURL"] = link(page + 1)
	}
	h.render(w, r, http.StatusOK, "queue", data)
}

// entry is a feed row as the API renders it (kycreview.EntryJSON),
// decoded for the page.
type entry struct {
	UUID            string            `json:"uuid"`
	ActivityType    string            `json:"activity_type"`
	ActorDisplay    string            `json:"actor_display"`
	ActorEmail      *string           `json:"actor_email"`
	ActorType       string            `json:"actor_type"`
	NewStatus       *kycreview.Status `json:"new_status"`
	PreviousStatus  *kycreview.Status `json:"previous_status"`
	Comment         *string           `json:"comment"`
	MentionedEmails []string          `json:"mentioned_emails"`
	ChangedFields   []string          `json:"changed_fields"`
	CreatedAt       time.Time         `json:"created_at"`
}

// prettyJSON indents a JSON value for display; "" for none.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	me := current(r.Context()).User
	// Opened from a notification: mark it read. Ids that are not the
	// user's are ignored by the service.
	if n, ok := kycreview.CanonicalUUID(r.URL.Query().Get("n")); ok {
		if _, err := h.svc.MarkNotificationsRead(r.Context(), me.ID, []string{n}); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.renderSession(w, r, http.StatusOK, "", "")
}

// renderSession shows the session page, with a form error and the comment
// typed so far when a review was refused.
func (h *Handler) renderSession(w http.ResponseWriter, r *http.Request, code int, formErr, comment string) {
	me := current(r.Context()).User
	v, err := h.svc.ConsoleSession(r.Context(), me.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	entries := make([]entry, 0, len(v.Entries))
	for _, raw := range v.Entries {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			h.fail(w, r, err)
			return
		}
		entries = append(entries, e)
	}
	h.render(w, r, code, "session", map[string]any{
		"Title": "Session " + strconv.FormatInt(v.Session.Number, 10), "View": v, "Entries": entries,
		"Metadata": prettyJSON(v.Session.Metadata), "FormError": formErr, "Comment": comment,
		"Statuses": kycreview.ReviewStatuses(),
	})
}

func (h *Handler) review(w http.ResponseWriter, r *http.Request) {
	me := current(r.Context()).User
	comment := r.PostForm.Get("comment")
	var st *kycreview.Status
	switch action := r.PostForm.Get("action"); action {
	case "comment":
	default:
		s := kycreview.Status(action)
		if !s.In(kycreview.ReviewStatuses()) {
			h.renderSession(w, r, http.StatusBadRequest, "Choose Approve, Decline, In Review or Comment.", comment)
			return
		}
		st = &s
	}
	_, err := h.svc.ConsoleReview(r.Context(), me, r.PathValue("id"), st, comment)
	if kycreview.ErrorCode(err) == kycreview.EINVALID {
		h.renderSession(w, r, http.StatusBadRequest, kycreview.ErrorMessage(err), comment)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"sessions/"+url.PathEscape(r.PathValue("id"))+"#feed", http.StatusSeeOther)
}

func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) {
	me := current(r.Context()).User
	page := pageNumber(r)
	in, err := h.svc.Notifications(r.Context(), me.ID, notificationPageSize, (page-1)*notificationPageSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pages := max(1, (in.Count+notificationPageSize-1)/notificationPageSize)
	data := map[string]any{"Title": "Notifications", "Inbox": in, "Unread": in.Unread, "Page": page, "Pages": pages}
	if page > 1 {
		data["PrevURL"] = Prefix + "notifications?page=" + strconv.Itoa(page-1)
	}
	if page < pages {
		data["NextURL"] = Prefix + "notifications?page=" + strconv.Itoa(page+1)
	}
	h.render(w, r, http.StatusOK, "notifications", data)
}

func (h *Handler) markAllRead(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.MarkNotificationsRead(r.Context(), current(r.Context()).User.ID, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"notifications", http.StatusSeeOther)
}
