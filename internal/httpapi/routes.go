package httpapi

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/kycreview/kycreview/internal/obs"
)

// handlerFunc is an API handler: it writes a success itself and returns an
// error for everything else, which is rendered in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// resource is one path's handlers by method.
type resource struct {
	name    string
	auth    bool
	methods map[string]handlerFunc
	route   string // the metrics' route label: the path pattern, without the optional slash
}

// routes is the router. Each path of the route table is served with and
// without its trailing slash and never redirected, since a redirect loses a
// POST body.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	s.routeTable(func(path string, res resource) {
		res.route = path
		h := s.resourceHandler(res)
		mux.Handle(path+"/{$}", h)
		mux.Handle(path, h)
		s.table = append(s.table, newRoute(path, res))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusNotFound, detail("Not found."))
	})
	return mux
}

// routeTable calls add with each path the API serves and its resource. Every
// path must be described in openapi.json (openapi_test.go checks it).
func (s *Server) routeTable(add func(path string, res resource)) {
	add("/v3/sessions/{session_id}/reviews", resource{name: "Review List", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getFeed, http.MethodPost: s.postReview,
	}})
	add("/v3/sessions/{session_id}/reviews/proof", resource{name: "Review Proof", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getProof,
	}})
	add("/v3/session", resource{name: "Session Create", auth: true, methods: map[string]handlerFunc{
		http.MethodPost: s.postSession,
	}})
	add("/v3/session/{session_id}/decision", resource{name: "Session Decision", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getDecision,
	}})
	add("/v3/sessions", resource{name: "Session List", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getSessions,
	}})
	add("/v3/session/{session_id}/delete", resource{name: "Session Delete", auth: true, methods: map[string]handlerFunc{
		http.MethodDelete: s.deleteSession,
	}})
	add("/v3/session/{session_id}/update-status", resource{name: "Session Update Status", auth: true, methods: map[string]handlerFunc{
		http.MethodPatch: s.patchStatus,
	}})
	add("/v3/webhook/destinations", resource{name: "Webhook Destination List", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getDestinations, http.MethodPost: s.postDestination,
	}})
	add("/v3/webhook/destinations/{destination_uuid}", resource{name: "Webhook Destination Detail", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getDestination, http.MethodPatch: s.patchDestination, http.MethodDelete: s.deleteDestination,
	}})
	add("/v3/webhook/destinations/{destination_uuid}/deliveries", resource{name: "Webhook Delivery List", auth: true, methods: map[string]handlerFunc{
		http.MethodGet: s.getDeliveries,
	}})
	add("/v3/webhook/destinations/{destination_uuid}/deliveries/{delivery_uuid}/resend", resource{name: "Webhook Delivery Resend", auth: true, methods: map[string]handlerFunc{
		http.MethodPost: s.postResend,
	}})
	add("/system/healthcheck", resource{name: "Healthcheck", methods: map[string]handlerFunc{
		http.MethodGet: s.getHealth,
	}})
	add("/system/status", resource{name: "Status", methods: map[string]handlerFunc{
		http.MethodGet: s.getStatus,
	}})
	add("/openapi.json", resource{name: "OpenAPI Document", methods: map[string]handlerFunc{
		http.MethodGet: s.getOpenAPI,
	}})
	if s.cfg.Metrics != nil {
		// No auth and no rate limit, like the healthcheck: scrapers hold no
		// key. The figures are counts and durations, nothing of a tenant.
		add("/metrics", resource{name: "Metrics", methods: map[string]handlerFunc{
			http.MethodGet: s.getMetrics,
		}})
	}
}

// Route is one path of the route table, for tests and documents that must
// cover every endpoint: the pattern (ServeMux syntax, without the trailing
// slash it is also served with), the resource's name, whether it needs an
// API key, and its methods (HEAD and OPTIONS, which every resource answers,
// left out).
type Route struct {
	Pattern string
	Name    string
	Auth    bool
	Methods []string
}

func newRoute(path string, res resource) Route {
	methods := make([]string, 0, len(res.methods))
	for m := range res.methods {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	return Route{Pattern: path, Name: res.name, Auth: res.auth, Methods: methods}
}

// Routes returns the route table, in the order it is declared.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.table))
	for i, r := range s.table {
		out[i] = r
		out[i].Methods = append([]string(nil), r.Methods...)
	}
	return out
}

// resourceHandler authenticates (before anything else, as DRF does), then
// dispatches by method: HEAD is GET without a body, OPTIONS describes the
// resource, and any other method gets DRF's 405 with an Allow header.
func (s *Server) resourceHandler(res resource) http.Handler {
	allowed := make([]string, 0, len(res.methods)+2)
	methods := make(map[string]handlerFunc, len(res.methods))
	for m, h := range res.methods {
		allowed = append(allowed, m)
		// Every POST and PATCH takes an Idempotency-Key (idempotency.go).
		if m == http.MethodPost || m == http.MethodPatch {
			h = s.idempotent(h)
		}
		methods[m] = h
	}
	sort.Strings(allowed)
	if _, ok := res.methods[http.MethodGet]; ok {
		allowed = append(allowed, http.MethodHead)
	}
	allowed = append(allowed, http.MethodOptions)
	allow := strings.Join(allowed, ", ")

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.SetRoute(r.Context(), res.route)
		if res.auth {
			key, err := s.svc.Authenticate(r.Context(), r.Header.Get("x-api-key"))
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), keyCtxKey, key))
			// As DRF throttles: after authentication, before the method
			// is looked at.
			if !s.throttle(w, r, key.ID) {
				return
			}
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := methods[method]
		switch {
		case ok:
			if err := h(w, r); err != nil {
				s.writeError(w, r, err)
			}
		case r.Method == http.MethodOptions:
			w.Header().Set("Allow", allow)
			s.writeJSON(w, http.StatusOK, map[string]any{
				"name": res.name, "description": "", "renders": []string{"application/json"}, "parses": []string{"application/json"},
			})
		default:
			w.Header().Set("Allow", allow)
			s.writeJSON(w, http.StatusMethodNotAllowed, detail("Method \""+r.Method+"\" not allowed."))
		}
	})
}
