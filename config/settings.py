"""OpsKaizen settings: one module, configured from the environment.

Every value has a safe default so that `scripts/demo.sh` runs with nothing but
Python (SQLite under var/, a file-system Celery broker). Production sets the
variables listed in docs/production.md (DATABASE_URL, REDIS_URL, SECRET_KEY, HTTPS...).
"""

import re
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("OPSKAIZEN_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in var/ (never a known default)."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally for /api/docs/ (no CDN)
    "django_htmx",
    "axes",
    "auditlog",
    # The product, from the base up: an app imports only the apps above it in this list.
    "core",
    "teams",
    "incidents",
    "imports",
    "improvement",
    "reporting",
    "rituals",
    "integrations",
]

MIDDLEWARE = [
    # First: it times the whole answer, every middleware included (config/prometheus.py).
    "config.prometheus.RequestLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Re-reads a single sign-on session's teams from the provider every OIDC_REFRESH_SECONDS.
    "teams.oidc.SessionRefresh",
    "config.middleware.DatabaseUnavailableMiddleware",
    "core.replica.ReplicaPinMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'opskaizen.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time: wait for the lock instead of failing when the
    # web process and the Celery worker write at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Behind PgBouncer in transaction-pooling mode (DATABASE_POOLER=transaction), one server connection
# serves many clients, each only for the length of a transaction: nothing may live in the session.
# No server-side cursors (large reads go in keyset chunks, core/db.py), no prepared statements, no
# startup options (run `ALTER DATABASE … SET jit = off` instead of the option below). docs/production.md.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "session", "transaction"):
    raise ImproperlyConfigured("DATABASE_POOLER is empty, 'session' or 'transaction'.")
# A read replica (DATABASE_REPLICA_URL): the dashboard and the metrics API read from it, everything
# else and every write uses the primary (core/replica.py). In tests it mirrors the test database.
READ_REPLICA = ""
READ_REPLICA_PIN_SECONDS = env.int("READ_REPLICA_PIN_SECONDS", default=10)
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
    for _key in ("ATOMIC_REQUESTS", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS"):
        DATABASES["replica"][_key] = DATABASES["default"][_key]
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    READ_REPLICA = "replica"
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
for _db in DATABASES.values():
    if DATABASE_POOLER == "transaction" and _db["ENGINE"] == "django.db.backends.postgresql":
        _db["DISABLE_SERVER_SIDE_CURSORS"] = True
        _db.setdefault("OPTIONS", {})["prepare_threshold"] = None
    elif _db["ENGINE"] == "django.db.backends.postgresql":
        # psycopg prepares a statement after it ran this many times on a connection; only the
        # hot statements of core/prepared.py can be (they bind server-side; Django's own cursors
        # bind on the client, which psycopg never prepares). Django's default turns it off. 0: at
        # the first run, so that the thousands of other queries psycopg counts meanwhile (its
        # cache of counts keeps the last 100) never keep a hot statement from being prepared.
        _db.setdefault("OPTIONS", {}).setdefault("prepare_threshold", env.int("DATABASE_PREPARE_THRESHOLD", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "core.auth.LoginThrottleBackend",
    "core.auth.LocalPasswordBackend",
    "teams.oidc.ProviderBackend",
]
# Local (password) sign-in. With single sign-on in place, turn it off: then only the one
# break-glass administrator named here signs in with a password, for when the provider is down
# during an incident; each such sign-in is written in every team's audit log.
LOCAL_LOGIN_ENABLED = env.bool("LOCAL_LOGIN_ENABLED", default=True)
BREAK_GLASS_USERNAME = env.str("BREAK_GLASS_USERNAME", default="")

# Single sign-on through OpenID Connect (teams/oidc.py, docs/sso.md). On when OIDC_ISSUER is set.
# The endpoints are explicit, not fetched from the discovery document at start-up, so that the
# application starts while the provider is down; `manage.py oidc_discover <issuer>` prints them.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
SSO_ENABLED = bool(OIDC_ISSUER)
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_JWKS_ENDPOINT", default="") or None
OIDC_RP_IDP_SIGN_KEY = None
OIDC_USE_NONCE = True
OIDC_USE_PKCE = env.bool("OIDC_USE_PKCE", default=True)
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT_SECONDS", default=10)
OIDC_CALLBACK_CLASS = "teams.oidc.CallbackView"
OIDC_AUTHENTICATE_CLASS = "teams.oidc.AuthenticateView"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
# How often a signed-in person's teams are re-read from the provider (a silent re-authentication):
# the longest someone who left keeps access.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env.int("OIDC_REFRESH_SECONDS", default=15 * 60)
OIDC_EXEMPT_URLS = ["healthz", re.compile(r"^/(api|hooks|calendar|static)/")]
# The claim that carries teams and roles, and how its values read: each value matching the
# pattern (named groups `team` = a team's slug, `role` = viewer|member|lead) grants that role,
# e.g. Keycloak's group path "/opskaizen/platform-sre/lead"; OIDC_TEAM_ROLE_MAP maps opaque values
# (Entra ID's group object ids) to "team-slug:role" first.
OIDC_TEAMS_CLAIM = env.str("OIDC_TEAMS_CLAIM", default="groups")
OIDC_TEAM_ROLE_PATTERN = env.str(
    "OIDC_TEAM_ROLE_PATTERN", default=r"^/?opskaizen[:/](?P<team>[a-z0-9-]+)[:/](?P<role>viewer|member|lead)$"
)
OIDC_TEAM_ROLE_MAP = env.json("OIDC_TEAM_ROLE_MAP", default={})
# Login throttling (core/login_throttle.py): after AXES_FAILURE_LIMIT failed logins for one
# username from one address, that pair is locked out for AXES_COOLOFF_MINUTES; after
# AXES_ADDRESS_FAILURE_LIMIT failures from one address across user names, the address is.
# The per-address limit is higher so that one office behind one address is not locked out
# by a morning's typos.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], ["ip_address"]]
AXES_HANDLER = "core.login_throttle.PerUserAndAddressHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# The client address: REMOTE_ADDR, or behind BEHIND_PROXY=true the X-Forwarded-For entry added
# by the outermost of PROXY_COUNT trusted proxies, never the client's own header.
TRUSTED_PROXY_COUNT = env.int("PROXY_COUNT", default=1) if env.bool("BEHIND_PROXY", default=False) else 0
AXES_CLIENT_IP_CALLABLE = "core.login_throttle.client_address"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
# Serve straight from the apps' static/ folders when collectstatic has not run
# (quickstart, tests); production runs collectstatic at deploy time.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not (STATIC_ROOT / "staticfiles.json").exists())
if WHITENOISE_USE_FINDERS:
    STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

# --- Security -----------------------------------------------------------------
# HTTPS=true in production (behind TLS): redirects, secure cookies and HSTS.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env.bool("BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content Security Policy (django-csp): scripts only from our own static files,
# never inline; no framing; forms post only to us. Inline style attributes are
# allowed (the admin and htmx's indicators use them); inline script is not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# CSV imports (docs/import.md): a file is refused over this size before it is read, and over this
# many rows before anything is written; the file is kept in the database until it is imported.
OPSKAIZEN_IMPORT_MAX_BYTES = env.int("OPSKAIZEN_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
OPSKAIZEN_IMPORT_MAX_ROWS = env.int("OPSKAIZEN_IMPORT_MAX_ROWS", default=200_000)
# Above this many rows the page hands the dry run and the import to a worker and shows progress.
OPSKAIZEN_IMPORT_BACKGROUND_ROWS = env.int("OPSKAIZEN_IMPORT_BACKGROUND_ROWS", default=2_000)

# --- Email ------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="opskaizen@localhost")

# --- Cache ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery: broker, delivery guarantees, the beat schedule ------------------
from celery.schedules import crontab  # noqa: E402

# Broker: CELERY_BROKER_URL, else REDIS_URL, else a file-system broker under
# var/ so that a web process and a worker can talk without any server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A web request that queues a task must not hang on a Redis host that does not answer.
    CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("socket_connect_timeout", 2)
# e.g. '{"visibility_timeout": 600}': how long an unacknowledged task waits before redelivery.
CELERY_BROKER_TRANSPORT_OPTIONS.update(env.json("CELERY_BROKER_TRANSPORT_OPTIONS_EXTRA", default={}))
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# Every task is idempotent: acknowledged once done, so a worker killed mid-task loses nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A worker or beat never gives up on the broker by itself (Celery's default: 100 tries, then
# exit): after an outage of any length it reconnects and carries on; its supervisor restarts it
# only when it really died (docs/operations.md). redis:// channels that survive an outage while
# a task is unacknowledged: config/redis_broker.py (registered in config/celery.py).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Everything the product runs by itself; beat runs exactly once. Each entry expires before its next
# run: a run missed during an outage is dropped, its state is in the database and the next catches up.
CELERY_BEAT_SCHEDULE = {
    # Rituals: open review sessions, freeze agendas, send reminders (rituals/tick.py).
    "rituals-tick": {"task": "improvement.tick", "schedule": crontab(minute="*"), "options": {"expires": 55}},
    # The Check: measure every action whose observation window and grace period have ended.
    "checks-measure": {
        "task": "improvement.measure_checks",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 540},
    },
    # The default dashboards teams look at, computed ahead so a view shows one at most a tick old.
    "dashboards-refresh": {
        "task": "reporting.refresh_dashboards",
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    # Incoming webhooks are stored queued and applied by the drain (nudged per delivery; this sweeps).
    "webhook-drain": {"task": "teams.drain_webhooks", "schedule": 30.0, "options": {"expires": 25}},
    # Outgoing webhooks are an outbox, sent by the nudge after each event or by this dispatcher.
    "outgoing-dispatch": {"task": "teams.dispatch_outgoing", "schedule": 60.0, "options": {"expires": 55}},
    # Delivery logs past WEBHOOK_RETENTION_DAYS.
    "prune-deliveries": {
        "task": "teams.prune_deliveries",
        "schedule": crontab(minute=17),
        "options": {"expires": 3000},
    },
}

# --- REST framework -----------------------------------------------------------
# Token or session auth, one error shape, per-token throttling.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.OpsKaizenAutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.plumbing.StableOrderingFilter",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["teams.api.auth.IsTeamCaller"],
    "DEFAULT_PARSER_CLASSES": ["core.api.plumbing.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.plumbing.StablePagination",
    "DEFAULT_THROTTLE_CLASSES": ["teams.api.auth.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 50,
}
# Requests per token (or signed-in user) and period; empty disables throttling.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="1200/minute") or None
SPECTACULAR_SETTINGS = {
    "TITLE": "OpsKaizen API",
    "DESCRIPTION": (BASE_DIR / "core" / "api" / "API.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "PostmortemStatusEnum": "incidents.models.Postmortem.Status",
        "ProblemStatusEnum": "incidents.models.Problem.Status",
        "ReviewSessionStatusEnum": "rituals.models.ReviewSession.Status",
        "ChangeKindEnum": "incidents.models.Change.Kind",
        "ActionKindEnum": "improvement.models.Action.Kind",
        "RitualKindEnum": "rituals.models.Ritual.Kind",
        "TimelineKindEnum": "incidents.models.TimelineEvent.Kind",
        "StageEnum": "improvement.models.Stage",
        "VerdictEnum": "improvement.models.Verdict",
        "FactorCategoryEnum": "incidents.models.FactorCategory",
    },
}

# --- Logging ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Web UI -------------------------------------------------------------------
# The header of every page: the user's teams (switcher), the current team and role.
TEMPLATES[0]["OPTIONS"]["context_processors"].append("teams.context_processors.navigation")
UI_PAGE_SIZE = env.int("UI_PAGE_SIZE", default=25)

# --- Metrics and the Check ----------------------------------------------------
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not DATABASE_POOLER:
    # The metrics' correlated EXISTS (repeat incidents) inflate the planner's cost
    # estimates past jit_above_cost: PostgreSQL then spends ~0.7 s compiling a query
    # that runs in ~50 ms (measured by bench/metrics_bench.py). Our queries are short.
    for _db in DATABASES.values():
        _db.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
# Data is left to settle this long after an observation window ends before the product measures
# it (late incidents); for contributing-factor targets at least the postmortem deadline.
OPSKAIZEN_CHECK_GRACE_HOURS = max(48, env.int("OPSKAIZEN_CHECK_GRACE_HOURS", default=48))
OPSKAIZEN_POSTMORTEM_DEADLINE_DAYS = env.int("OPSKAIZEN_POSTMORTEM_DEADLINE_DAYS", default=5)
# The repeat-incident rate: an incident of a problem that already had one within this many days.
OPSKAIZEN_REPEAT_WINDOW_DAYS = env.int("OPSKAIZEN_REPEAT_WINDOW_DAYS", default=30)

# --- Rituals: reminders and notifications -------------------------------------
OPSKAIZEN_REMINDER_DAYS_AHEAD = env.int("OPSKAIZEN_REMINDER_DAYS_AHEAD", default=3)
OPSKAIZEN_REMINDER_HOUR = env.int("OPSKAIZEN_REMINDER_HOUR", default=9)
OPSKAIZEN_NOTIFICATION_MAX_ATTEMPTS = env.int("OPSKAIZEN_NOTIFICATION_MAX_ATTEMPTS", default=6)
OPSKAIZEN_CHAT_TIMEOUT = env.int("OPSKAIZEN_CHAT_TIMEOUT", default=10)

# --- Incoming webhooks ----------------------------------------------------------
# How long one drain task applies queued deliveries before handing over to the next.
OPSKAIZEN_WEBHOOK_DRAIN_SECONDS = env.float("OPSKAIZEN_WEBHOOK_DRAIN_SECONDS", default=20.0)
# Senders that sign only the body (GitHub, Jira, PagerDuty) retry the same delivery for hours
# (PagerDuty up to 48 h, GitHub's redelivery up to 3 days): an event older than this is refused,
# and the delivery ids that de-duplicate retries are kept at least this long (+1 day) whatever
# WEBHOOK_RETENTION_DAYS says. It must exceed every vendor's retry horizon.
WEBHOOK_MAX_EVENT_AGE_DAYS = env.int("WEBHOOK_MAX_EVENT_AGE_DAYS", default=7)
if WEBHOOK_MAX_EVENT_AGE_DAYS < 3:
    raise ImproperlyConfigured("WEBHOOK_MAX_EVENT_AGE_DAYS must be at least 3 (GitHub redelivers for 3 days).")
# Incoming deliveries (applied or refused) and finished outgoing ones older than this many days are
# deleted by teams.prune_deliveries (0 keeps them forever); Idempotency-Keys after 24 hours.
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)
WEBHOOK_PRUNE_BATCH_SIZE = env.int("WEBHOOK_PRUNE_BATCH_SIZE", default=1000)

# --- Outgoing webhooks and chat -------------------------------------------------
OPSKAIZEN_WEBHOOK_TIMEOUT = env.int("OPSKAIZEN_WEBHOOK_TIMEOUT", default=10)
# How long a sender holds a delivery before another may take it over (after a crash mid-POST).
OPSKAIZEN_WEBHOOK_LEASE_SECONDS = env.int("OPSKAIZEN_WEBHOOK_LEASE_SECONDS", default=120)
# Outgoing and chat webhooks only reach public addresses (core/egress.py); an on-premises install
# whose Jira or chat is on the internal network opens loopback and private networks here, or
# names hosts / networks (CIDR) in the allow-list.
OUTGOING_ALLOW_PRIVATE_NETWORKS = env.bool("OUTGOING_ALLOW_PRIVATE_NETWORKS", default=False)
OUTGOING_ALLOWED_HOSTS = env.list("OUTGOING_ALLOWED_HOSTS", default=[])

# --- Prometheus (/metrics, config/prometheus.py) ---------------------------
# The instance-wide scrape credential (Authorization: Bearer …); empty: /metrics answers 404.
METRICS_SCRAPE_TOKEN = env.str("METRICS_SCRAPE_TOKEN", default="")
# How long the teams' figures are reused between scrapes (they move by the week).
METRICS_CACHE_SECONDS = env.int("METRICS_CACHE_SECONDS", default=300)
