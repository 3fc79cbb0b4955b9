"""Settings, read from the environment. SQLite and a local Redis by default."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from accounts.email_url import email_settings as _email_settings
from config import broker
from config.env import env_bool, env_int, env_list, env_str
from grading import code as _grading_code  # plain Python: the code size limit
from grading import limits as _grading_limits  # plain Python: the maxima's defaults

BASE_DIR = Path(__file__).resolve().parents[2]  # the repository root
VAR_DIR = BASE_DIR / "var"  # local state (SQLite database, logs); ignored by git
VAR_DIR.mkdir(exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", True)
if not DEBUG:
    # Production: every secret and address comes from the environment; say all that is missing
    # at once, before anything starts (docs/deploy.md lists them).
    from config.security import production_problems

    _problems = production_problems()
    if _problems:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off (production), but:\n  - " + "\n  - ".join(_problems)
            + "\nSee docs/deploy.md, section 'Environment'."
        )
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "courses",
    "submissions",
    "dashboard",
    "drafts",
    "lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",  # CSP, Permissions-Policy, COOP
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Sessions, their authentication and messages, skipped by token requests to /api/
    # (accounts/middleware.py: a token carries no cookie; issue #15, web CPU per request).
    "accounts.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "accounts.middleware.AuthenticationMiddleware",
    # After auth (it may replace request.user), before CSRF (token requests carry no cookie).
    "accounts.middleware.TokenAuthMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "dashboard.context_processors.staff_links",
                "accounts.context_processors.my_courses",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file (not :memory:) so that a Celery worker process can share the test database.
    # TEST_SQLITE_PATH: lets several test runs on one machine use separate files.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("TEST_SQLITE_PATH", str(VAR_DIR / "test.sqlite3"))
    }
    # Many students at once (make run, docs/deploy.md): WAL lets readers and the one writer
    # run side by side (in rollback-journal mode polling readers starved the writers);
    # synchronous=NORMAL is durable in WAL except on power loss; writers queue for up to
    # `timeout` s. IMMEDIATE takes the write lock at BEGIN: a read-then-write transaction never
    # fails to upgrade (which the busy timeout does not cover), and requests write in short
    # transactions only (nothing waits, e.g. a long poll, inside one).
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
    # Opening a connection (Django's SQL functions, the PRAGMAs, the WAL index) cost as much
    # as a verdict poll's queries; `make run` keeps each thread's connection (local_server.py).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("SQLITE_CONN_MAX_AGE", 0)
elif env_int("DATABASE_POOL_SIZE", 0) > 0:
    # PostgreSQL connection pool per web process (needs psycopg-pool): threads borrow a
    # connection per request instead of holding one each (docs/deploy.md, sizing).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": env_int("DATABASE_POOL_SIZE", 0), "timeout": 20,
    }
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Parameters bound by the server, and a statement a connection ran 5 times kept
    # prepared: the few hot queries of a submission skip PostgreSQL's parse and plan
    # (~1 ms less of its CPU per graded submission, benchmarks/RESULTS.md). Behind a pooler
    # that cannot keep prepared statements (PgBouncer in transaction mode before 1.21),
    # set DATABASE_PREPARE_THRESHOLD=0.
    _prepare = env_int("DATABASE_PREPARE_THRESHOLD", 5)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=_prepare if _prepare > 0 else None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "courses:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "platform" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"  # `collectstatic` output for production
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = False  # the page's fetch() reads it to send X-CSRFToken
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_SECONDS", 14 * 24 * 3600)
CONTENT_SECURITY_POLICY: dict[str, str] = {}  # overrides of config.security.DEFAULT_CSP
TRUSTED_PROXY_HEADER = env_str("DJANGO_TRUSTED_PROXY_HEADER", "")  # e.g. HTTP_X_FORWARDED_FOR
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)  # usually the proxy's job
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Hashed, compressed static files served by WhiteNoise (run collectstatic when deploying).
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }

# --- The course -------------------------------------------------------------------------
LESSONS_DIR = Path(env_str("LESSONS_DIR", str(BASE_DIR / "lessons")))
MAX_CODE_BYTES = _grading_code.MAX_CODE_BYTES  # defined once, in grading/code.py
# Upper bounds of the sandbox limits an exercise may ask for: the lesson loader refuses more,
# the grader clamps older rows (grading/limits.py has the defaults and the other fields).
# Keep twice SANDBOX_MAX_WALL_SECONDS (reference run + student run) below
# SUBMISSION_RUNNING_DEADLINE.
SANDBOX_MAX_LIMITS = {
    **_grading_limits.DEFAULT_MAX_LIMITS,
    "cpu_seconds": env_int("SANDBOX_MAX_CPU_SECONDS", 30),
    "wall_seconds": env_int("SANDBOX_MAX_WALL_SECONDS", 60),
    "memory_bytes": env_int("SANDBOX_MAX_MEMORY_BYTES", 4 * 2**30),
}

# --- Celery (Redis broker; queues "cpu" and "gpu", regrades on "cpu-bulk"/"gpu-bulk") ----
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT = broker.transport_for(REDIS_URL)  # one Redis client per channel
CELERY_TASK_ACKS_LATE = True  # tasks are idempotent: a worker lost mid-run means a re-run
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
    # A worker started with `-Q cpu,cpu-bulk` always takes from `cpu` first: kombu's default
    # (round_robin) would alternate, so a regrade could take every other free slot.
    "queue_order_strategy": "priority",
}
# Regrades (hundreds of runs at once) wait on `<queue>-bulk` behind students' submissions.
BULK_QUEUE_SUFFIX = "-bulk"
CELERY_TASK_ROUTES = {"dashboard.tasks.regrade_submission": {"queue": "cpu-bulk"}}
CELERY_TASK_IGNORE_RESULT = True  # verdicts live in the database, not in a result backend
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# How long a worker's "I serve queue X" heartbeat lives in Redis.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 5)
# Exercise queues this deployment runs workers for. An exercise on any other queue (the gpu
# exercise on a machine without a GPU) is optional automatically (dashboard/grades.py).
SERVED_QUEUES = env_list(
    "SERVED_QUEUES", "cpu,gpu" if Path("/dev/nvidiactl").exists() else "cpu"
)

# --- Reliability and fairness (docs/deploy.md) ----------------------------------------
# The sweeper (a timer thread in every worker; one at a time holds a Redis lock) re-publishes
# submissions queued longer than QUEUED_DEADLINE and takes back those running longer than
# RUNNING_DEADLINE (keep it above the longest sandbox wall limit plus the reference run).
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 10)
SUBMISSION_QUEUED_DEADLINE = env_int("SUBMISSION_QUEUED_DEADLINE", 60)
SUBMISSION_RUNNING_DEADLINE = env_int("SUBMISSION_RUNNING_DEADLINE", 150)
SUBMISSION_MAX_TRIES = env_int("SUBMISSION_MAX_TRIES", 3)  # claims before internal_error
SUBMISSION_MAX_REQUEUES = env_int("SUBMISSION_MAX_REQUEUES", 5)  # re-publications, ditto
# Per-student submissions (submit + run) per window: "COUNT/SECONDS".
SUBMISSION_RATE_LIMIT = env_str("SUBMISSION_RATE_LIMIT", "20/60")
# Sandbox time each student may use per window (submit + run), charged when a run finishes;
# over it, the next submission is answered 429 until old runs leave the window.
SANDBOX_BUDGET_WINDOW_SECONDS = env_int("SANDBOX_BUDGET_WINDOW_SECONDS", 600)
SANDBOX_BUDGET_WALL_SECONDS = env_int("SANDBOX_BUDGET_WALL_SECONDS", 120)
SANDBOX_BUDGET_CPU_SECONDS = env_int("SANDBOX_BUDGET_CPU_SECONDS", 120)
# A regrade with no result started or finished for this long is presumed to have lost its
# messages: the next regrade request of the exercise sends its remaining work again.
REGRADE_STALL_SECONDS = env_int("REGRADE_STALL_SECONDS", 600)
# Failed logins per username, and per client address, per window: "COUNT/SECONDS".
# The username limit does the work; the address limit is high enough for a whole class
# behind one NAT typing passwords wrong on day one.
LOGIN_RATE_LIMIT_USER = env_str("LOGIN_RATE_LIMIT_USER", "5/300")
LOGIN_RATE_LIMIT_IP = env_str("LOGIN_RATE_LIMIT_IP", "300/300")
# Open `?wait=` long polls per user (each holds a web thread); beyond it: answer at once.
LONG_POLL_MAX_PER_USER = env_int("LONG_POLL_MAX_PER_USER", 4)

# --- Accounts: sign-up, join links, e-mail (docs/instructors.md, "Students") -----------
# Sign-ups per client address per window ("COUNT/SECONDS"): high enough for a class behind
# one NAT signing up in the first minutes, low enough to stop a script making accounts.
SIGNUP_RATE_LIMIT_IP = env_str("SIGNUP_RATE_LIMIT_IP", "60/600")
# Password-reset requests per client address per window (each one sends an e-mail).
PASSWORD_RESET_RATE_LIMIT_IP = env_str("PASSWORD_RESET_RATE_LIMIT_IP", "20/3600")
# How long a set-password or reset link works (a link also dies once it has been used).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_SECONDS", 7 * 24 * 3600)
# EMAIL_URL selects SMTP (smtp://user:password@host:587, smtps://…), `console:` or
# `file:///folder`; unset, every message is written as a file into var/mail.
EMAIL_URL = env_str("EMAIL_URL", "")
try:
    globals().update(_email_settings(EMAIL_URL, VAR_DIR / "mail"))
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None
# Set-password links of a bulk import are e-mailed only when e-mail has been set up.
EMAIL_CONFIGURED = bool(EMAIL_URL.strip())
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Learn PyTorch <noreply@localhost>")
# The address students use, for links that leave the site (e-mails, `manage.py joinlink`,
# `manage.py enroll`); pages build theirs from the request instead.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# --- LTI 1.3 (docs/lti.md) ------------------------------------------------------------
# The OIDC state and nonce of a launch live in Redis: every web process sees them.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "lti": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pdl-lti"},
}
# LMS origins allowed to show the site in an iframe (e.g. https://moodle.example.edu).
# Needs HTTPS: the session and CSRF cookies become SameSite=None; Secure (browsers send no
# other cookie to a site framed by another one).
LTI_FRAME_ANCESTORS = env_list("LTI_FRAME_ANCESTORS", "")
if LTI_FRAME_ANCESTORS:
    CONTENT_SECURITY_POLICY["frame-ancestors"] = "'self' " + " ".join(LTI_FRAME_ANCESTORS)
    X_FRAME_OPTIONS = "SAMEORIGIN"  # CSP frame-ancestors above is what browsers follow
    if not DEBUG and SESSION_COOKIE_SECURE:
        SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "None"
# Grade passback (AGS): tries of the Celery task before a passback is marked failed.
LTI_PASSBACK_MAX_RETRIES = env_int("LTI_PASSBACK_MAX_RETRIES", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
