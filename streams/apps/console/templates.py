"""The console's HTML pages: small shells; the data comes from /api/* and is drawn by static scripts
(no inline script or style, so the Content-Security-Policy can be `default-src 'self'`)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · ivigwatch</title>
<link rel="stylesheet" href="/static/console.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
{scripts}</head>
"""


def _head(title: str, *scripts: str) -> str:
    tags = "".join(f'<script src="/static/{escape(s)}" defer></script>\n' for s in scripts)
    return _HEAD.format(title=escape(title), scripts=tags)


def _bar(user: str, role: str = "nurse") -> str:
    return f"""<header class="bar">
<a class="brand" href="/">ivigwatch · on-call</a>
<nav class="pages"><a id="nav-alerts" href="/">Alerts</a> <a id="nav-board" href="/board">Board</a></nav>
<span id="connection" class="connection" aria-live="polite">connecting</span>
<span class="spacer"></span>
<button id="mute" type="button" aria-pressed="false" title="Mute the critical alert sound">Sound on</button>
<span class="user">{escape(user)}</span> <span id="role" class="role">{escape(role.replace("_", " "))}</span>
<form method="post" action="/logout" class="logout"><button id="logout" type="submit">Log out</button></form>
</header>
"""


def login_page(error: bool, wait: int | None = None, sso: bool = False, sso_error: str | None = None) -> str:
    """The login form; `wait`: too many failed logins from here, say how many seconds to wait; `sso`:
    offer single sign-on (`sso_error`: why the last one failed)."""
    message = '<p class="error" id="login-error">Wrong name or password.</p>' if error else ""
    if wait is not None:
        message = (
            f'<p class="error" id="login-wait" role="alert">Too many failed logins from this computer. '
            f"Wait {int(wait)} seconds, then try again.</p>"
        )
    if sso_error is not None:
        message = f'<p class="error" id="sso-error" role="alert">{escape(sso_error)}</p>'
    sso_link = '<p class="sso"><a id="sso-login" href="/login/sso">Log in with single sign-on</a></p>\n'
    return (
        _head("Log in")
        + f"""<body class="login">
<main class="login-box">
<h1>ivigwatch · on-call nurses</h1>
{message}
<form method="post" action="/login">
<label for="username">Name</label>
<input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button id="login" type="submit">Log in</button>
</form>
{sso_link if sso else ""}</main>
</body>
</html>
"""
    )


_ALERT_COLUMNS = (
    "<th>Patient</th><th>Condition</th><th>Severity</th><th>Since</th><th>Esc.</th>"
    "<th>Evidence</th><th>Action</th><th></th>"
)


def sso_done_page() -> str:
    """After a single sign-on callback: go on to / from this page (so the Strict cookie is sent)."""
    return (
        _head("Logged in").replace("</head>", '<meta http-equiv="refresh" content="0; url=/">\n</head>')
        + """<body class="login">
<main class="login-box"><p id="sso-done">Logged in. <a href="/">Open the console</a>.</p></main>
</body>
</html>
"""
    )


def console_page(user: str, role: str = "nurse", actions: Iterable[str] = ("ack", "resolve", "note")) -> str:
    """The alert list; `actions`: what this user may do (the page shows only those buttons)."""
    allowed = escape(" ".join(actions))
    return (
        _head("Alerts", "common.js", "console.js")
        + f'<body data-role="{escape(role)}" data-actions="{allowed}">\n'
        + _bar(user, role)
        + f"""<main>
<section class="open">
<h2>Open alerts <span id="open-count" class="count">0</span></h2>
<div id="new-pages" class="new-pages" role="alert" hidden></div>
<table id="open-alerts" class="alerts">
<thead><tr>{_ALERT_COLUMNS}</tr></thead>
<tbody></tbody>
</table>
<p id="no-open" class="empty">No open alerts.</p>
</section>
<section class="resolved">
<h2>Recently resolved</h2>
<table id="resolved-alerts" class="alerts">
<thead><tr><th>Patient</th><th>Condition</th><th>Severity</th><th>Resolved</th><th>Who acted</th>
<th>Last word</th></tr></thead>
<tbody></tbody>
</table>
</section>
<p id="action-error" class="error" role="alert" hidden></p>
</main>
</body>
</html>
"""
    )


def session_page(user: str, session_id: str, role: str = "nurse") -> str:
    sid = escape(session_id)
    return (
        _head(f"Session {session_id}", "common.js", "session.js")
        + "<body>\n"
        + _bar(user, role)
        + f"""<main id="session" data-session-id="{sid}">
<p><a href="/">← all alerts</a></p>
<h1>Session <span id="session-id">{sid}</span> <span id="session-patient" class="muted"></span></h1>
<p id="session-summary" class="muted">Loading…</p>
<p id="session-error" class="error" role="alert" hidden></p>
<div class="chart-wrap">
<svg id="vitals-chart" xmlns="http://www.w3.org/2000/svg" role="img"
 aria-label="Vital signs, infusion rate, symptoms and alerts over time"></svg>
</div>
<div class="facts">
<section id="baseline"><h2>Baseline</h2><dl></dl></section>
<section id="risk-factors"><h2>Risk factors</h2><ul></ul><dl></dl></section>
</div>
<section id="session-alerts"><h2>Alerts in this session</h2>
<table class="alerts"><thead><tr><th>Time</th><th>Condition</th><th>Severity</th><th>Status</th>
<th>Evidence</th><th>By</th></tr></thead><tbody></tbody></table></section>
</main>
</body>
</html>
"""
    )


_BOARD_COLUMNS = (
    "<th>Patient</th><th>Phase</th><th>Rate</th><th>Last vitals</th><th>Next vitals due</th>"
    "<th>Open incidents</th><th>Limits, snoozes, quiets</th><th>Owner</th><th>Handoff note</th>"
)


def board_page(user: str, role: str = "nurse") -> str:
    """The caseload board: one row per patient infusing or inside the post-infusion window (and
    every patient with an open incident), what needs a look first; drawn live by board.js."""
    return (
        _head("Board", "common.js", "board.js")
        + "<body>\n"
        + _bar(user, role)
        + f"""<main>
<section class="board">
<h2>Caseload <span id="board-count" class="count">0</span>
<span id="board-now" class="muted"></span></h2>
<table id="board" class="alerts board">
<thead><tr>{_BOARD_COLUMNS}</tr></thead>
<tbody></tbody>
</table>
<p id="board-empty" class="empty">No infusion running and nobody in a post-infusion window.</p>
</section>
</main>
</body>
</html>
"""
    )


def limits_page(user: str, patient_id: str, role: str = "nurse") -> str:
    """(issue 16) One patient's own limits and snoozes: those in force, and the forms to set or end
    them (reason and expiry required; what the rule file does not allow is refused before sending)."""
    pid = escape(patient_id)
    return (
        _head(f"Limits {patient_id}", "common.js", "limits.js")
        + "<body>\n"
        + _bar(user, role)
        + f"""<main id="limits" data-patient-id="{pid}">
<p><a href="/">← all alerts</a></p>
<h1>Limits and snoozes of <span id="limits-patient">{pid}</span></h1>
<p class="muted">Warning and urgent single-vital rows only: critical rows, composites (NEWS2, infusion
reaction, anaphylaxis, respiratory compromise), symptom rows and extreme values always page.</p>
<p id="limits-error" class="error" role="alert" hidden></p>
<p id="limits-done" class="muted" role="status" hidden></p>
<section id="in-force"><h2>In force</h2><ul id="in-force-list"></ul>
<p id="none-in-force" class="empty">None: the rule file's limits apply.</p></section>
<section><h2>Set a limit</h2>
<form id="limit-form">
<label for="limit-target">Vital and side</label> <select id="limit-target" required></select>
<label for="limit-value">Limit</label> <input id="limit-value" type="number" step="any" required>
<span id="limit-bounds" class="muted"></span><br>
<label for="limit-hours">Expires in (hours)</label>
<input id="limit-hours" type="number" step="any" min="0" required>
<label for="limit-reason">Reason</label> <input id="limit-reason" maxlength="500" required>
<button id="limit-set" type="submit">Set limit</button>
</form></section>
<section><h2>Snooze a condition</h2>
<form id="snooze-form">
<label for="snooze-target">Condition or row</label> <select id="snooze-target" required></select><br>
<label for="snooze-hours">Expires in (hours)</label>
<input id="snooze-hours" type="number" step="any" min="0" required>
<label for="snooze-reason">Reason</label> <input id="snooze-reason" maxlength="500" required>
<button id="snooze-set" type="submit">Snooze</button>
</form></section>
</main>
</body>
</html>
"""
    )
