"""The nurse console: live open alerts (SSE), nurse actions to `ivig.actions.v1`, session charts.

- `auth`: scrypt password hashes, accounts from settings, signed session cookies, the middleware
  refusing anonymous requests and the CSRF header check, login and logout
- `alertbook`: pure fold of alert messages into open alerts (severity, then age) and recently resolved
- `feed`: `ivig.alerts.v1` (and notes on `ivig.actions.v1`) from the beginning into the alert book,
  each change fanned out to the SSE clients
- `actions`: the producer of nurse actions, keyed by patient_id
- `api`: the JSON API and the SSE stream (`/api/*`), nurse actions as the logged-in nurse
- `sessionview`: a stored session as the session page's JSON
- `templates`: the HTML shells; `static/`: the scripts and the stylesheet (no libraries)
- `app`: routes, `create_console_app(settings)` and `running_console(settings)`

The contract (routes, auth, SSE, DOM ids) is docs/console-contract.md.
"""
