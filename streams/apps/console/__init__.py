"""The nurse console: live open alerts (SSE), nurse actions to `ivig.actions.v1`, session charts.

- `auth`: scrypt password hashes, accounts from settings, throttled logins, signed session cookies
  and their revocation
- `access`: the middleware refusing anonymous requests (cookie or Basic), cross-site posts and posts
  without the CSRF header; the login and logout handlers
- `hosts`: the host names the console answers to (Host and Origin checks against DNS rebinding)
- `clients`: who a request comes from (the remote address, or what a trusted reverse proxy forwarded)
- `throttle`: pure failed-login throttle, a growing delay per client and per (client, name)
- `revocations`: ended sessions on disk (0600, atomic), so a logout outlives a restart
- `roles`: the roles and the one permission table `can(role, action)` (pure)
- `audit_log`: who saw which patient's data, appended to a 0600 JSONL file; read back by filter
- `sso`, `sso_routes`: OpenID Connect single sign-on (code flow with PKCE, ID token checked) and its
  two routes
- `alertbook`: pure fold of alert messages into open alerts (severity, then age) and recently resolved,
  and of incidents into groups (an incident with its members; what paged after an acknowledgement is new)
- `feed`: `ivig.alerts.v1` (and notes on `ivig.actions.v1`) from the beginning into the alert book,
  each change fanned out to the SSE clients
- `caseload`: pure fold of `ivig.events.v1` into the caseload board (phase, rate, vitals freshness on
  the care schedule, check-ins) and its rows with the alert book's incidents, in the board's order
- `board`: the board live: the events topic from the post-infusion window back into the caseload,
  pushed to the board's SSE clients on each change and as time passes; `board_api`: its routes
- `action_sender`: the producer of nurse actions, keyed by patient_id
- `api`: the JSON API and the SSE stream (`/api/*`), nurse actions as the logged-in nurse
- `sessionview`: a stored session as the session page's JSON
- `templates`: the HTML shells; `static/`: the scripts and the stylesheet (no libraries)
- `web_app`: routes, `create_console_app(settings)` and `running_console(settings)`

The contract (routes, auth, SSE, DOM ids) is docs/console-contract.md.
"""
