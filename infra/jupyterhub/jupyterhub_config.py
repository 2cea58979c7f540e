# JupyterHub for a matsuri festival on one VM, in the spirit of The Littlest JupyterHub.
#
# Driven by the event's hub.json, which `matsuri infra apply --target jupyterhub` writes (its path
# comes from MATSURI_HUB_SETTINGS; `matsuri infra serve-hub` sets it). What this sets up:
#   - one real system account per participant (LocalProcessSpawner): private homes, and nbgrader
#     records each submission under the learner's own name;
#   - groups learners / instructors / judges, and nbgrader's nbgrader-<course> / formgrade-<course>;
#   - JupyterLab per user with the nbgrader extensions, a shared exchange, set up as a learner's
#     `matsuri lab` (in Japanese by default, no Jupyter news, no grading tools);
#   - services, each with only the scopes it needs: the course's formgrader, the judges' gallery
#     (behind a login gate), the idle culler, and a read-only status service for `matsuri infra status`.
# The same settings, for Kubernetes, are in k8s/values.yaml (a test keeps the two consistent).
import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub)
S = json.loads(Path(os.environ.get("MATSURI_HUB_SETTINGS", "/srv/matsuri-hub/hub.json")).read_text())
state = Path(S["state_dir"])
bin_dir = Path(S["python_bin"])
course = S["course"]
users = S["users"]  # {"learner": [...], "instructor": [...], "judge": [...]}


def secret(path):
    return Path(path).read_text().strip()


# ---------------------------------------------------------------- network and state
c.JupyterHub.bind_url = f"http://{S['ip']}:{S['port']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{S['hub_port']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['proxy_api_port']}"
if S.get("chp"):
    c.ConfigurableHTTPProxy.command = [S["chp"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.last_activity_interval = S["activity_interval_seconds"]
c.JupyterHub.cleanup_servers = True

# ---------------------------------------------------------------- who may log in
everyone = sorted({name for names in users.values() for name in names})
c.Authenticator.allowed_users = set(everyone)
c.Authenticator.admin_users = set(S["admins"])
# Only the participants listed: JupyterHub 5 also admits every user already in its database,
# which includes the course's grader account (a member of the formgrader group).
c.Authenticator.allow_existing_users = False
if S["authenticator"] == "shared-password":
    # A small event: one password, handed out in the room. Accounts are still per person.
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = secret(S["password_file"])
else:
    # Company SSO (OIDC): needs the `oauthenticator` package; settings from the environment
    # (OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_CALLBACK_URL, OAUTH2_AUTHORIZE_URL,
    # OAUTH2_TOKEN_URL, OAUTH2_USERDATA_URL); see infra/README.md.
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.username_claim = "preferred_username"
    c.GenericOAuthenticator.scope = ["openid", "profile", "email"]

# ---------------------------------------------------------------- groups and roles
groups = {
    "learners": users["learner"],
    "instructors": users["instructor"],
    "judges": users["judge"],
    f"nbgrader-{course}": users["learner"] + users["instructor"],
    f"formgrade-{course}": users["instructor"] + [S["grader"]],  # the grader runs the formgrader
}
groups.update({f"team-{team}": members for team, members in S["teams"].items()})
c.JupyterHub.load_groups = {name: {"users": members} for name, members in groups.items()}
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self"]},
    {"name": "gallery-viewer", "groups": ["judges", "instructors"],
     "scopes": ["access:services!service=gallery"]},
    {"name": f"formgrade-{course}", "groups": [f"formgrade-{course}"],
     "scopes": [f"access:services!service={course}"]},
    # Services: only what each needs. None can mint tokens (that would make it an admin).
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    {"name": "matsuri-status", "services": ["matsuri-status"],
     "scopes": ["list:users", "read:users:name", "read:users:activity", "read:servers"]},
    {"name": f"grader-{course}", "services": [course],
     "scopes": ["list:users", "read:users:name", "read:users:groups", "read:groups"]},
]

# ---------------------------------------------------------------- each person's server
server_env = {
    "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
    "MATSURI_WAREHOUSE": S["warehouse"],
    "PLOOMBER_STATS_ENABLED": "false",
    # nbgrader_config.py (exchange, hub courses), and the learners' lab settings (matsuri.lab):
    # Japanese by default, no Jupyter news, grading tools hidden from participants' servers
    "JUPYTER_CONFIG_PATH": S["jupyter_config_dir"],
    "JUPYTERHUB_ACTIVITY_INTERVAL": str(S["activity_interval_seconds"]),
    # `matsuri hackathon submit` and the starters' submit button hand in to this event's drop box
    "MATSURI_EVENT": S.get("hackathon_event", ""),
}
# LocalProcessSpawner, with each server forked from a warm process that has imported the server
# (about a second instead of four; see matsuri/infra/hub/warm_spawner.py). Same accounts, same
# privilege drop; if that process is not there, servers start the normal way.
c.JupyterHub.spawner_class = "matsuri.infra.hub.warm_spawner.WarmLocalProcessSpawner"
c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]  # runs as the participant, never root
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
languages = S.get("languages", {})  # participants.csv `language`, for those who set one


def config_path(spawner) -> str:
    """Those who read English get JupyterLab in English: their config folder comes first."""
    english = languages.get(spawner.user.name) == "en"
    return f"{S['english_config_dir']}:{S['jupyter_config_dir']}" if english else S["jupyter_config_dir"]


# the checks' feedback in the participant's own language (empty: the course's)
c.Spawner.environment = server_env | {"JUPYTER_CONFIG_PATH": config_path,
                                      "MATSURI_LANG": lambda spawner: languages.get(spawner.user.name, "")}
c.Spawner.mem_limit = f"{S['mem_limit_gb']:g}G"  # advertised to the server; enforced on Kubernetes
c.Spawner.cpu_limit = S["cpu_limit"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# nbgrader's hub plugin asks the hub which course groups the user is in.
c.Spawner.server_token_scopes = [
    "access:servers!server", "users:activity!user", "read:users:name!user", "read:users:groups!user",
]

# ---------------------------------------------------------------- services
c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [str(bin_dir / "python"), "-m", "jupyterhub_idle_culler",
                 f"--timeout={S['cull_idle_seconds']}", f"--cull-every={S['cull_every_seconds']}"]},
    {"name": "matsuri-status", "api_token": secret(S["status_token_file"]), "display": False},
    {"name": course,  # nbgrader's formgrader, run by the course's grader account
     "url": f"http://127.0.0.1:{S['formgrader_port']}",
     "command": [str(bin_dir / "jupyterhub-singleuser")],
     "user": S["grader"], "cwd": S["course_dir"],
     "environment": server_env | {
         "JUPYTERHUB_DEFAULT_URL": "/formgrader",
         "JUPYTER_CONFIG_PATH": S["grader_config_dir"],  # grading tools on here, off for participants
         # `matsuri course release|collect|grade` in this server's terminal use the hub's folders.
         "MATSURI_COURSE_WORK": str(Path(S["course_dir"]).parent), "MATSURI_EXCHANGE": S["exchange_dir"]},
     "oauth_no_confirm": True},
    {"name": "gallery",  # the judges' Voila gallery, behind the hub's login
     "url": f"http://127.0.0.1:{S['gallery_port']}",
     "command": [str(bin_dir / "python"), "-m", "matsuri.infra.hub.gate", "--", *S["gallery_command"]],
     "user": S["gallery_user"], "cwd": S["gallery_home"],
     "environment": server_env | {
         "JUPYTER_CONFIG_PATH": f"{S['gallery_config_dir']}:{S['jupyter_config_dir']}"},  # Voila's base_url
     "oauth_no_confirm": True},
]
if (Path(S.get("hackathon_event", "")) / "state" / "event.sqlite").is_file():
    # The hackathon's runner service (as root, like the hub: it starts sandboxes), started and
    # restarted with the hub; it needs no hub API, so it gets no token scopes.
    c.JupyterHub.services.append(
        {"name": "hackathon-runner", "display": False,
         "command": [str(bin_dir / "matsuri"), "hackathon", "--event", S["hackathon_event"], "runner"],
         "environment": {"MATSURI_WAREHOUSE": S["warehouse"], "MATSURI_LABELS": S["labels"]}})
