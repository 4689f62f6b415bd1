"""What the demo is made of: its teams, people, symptoms, changes and improvement ideas."""

from improvement.models import Action
from incidents.models import FactorCategory

PASSWORD = "kaizen-demo"  # noqa: S105 — the demo logins are printed on purpose

TEAMS = [
    {
        "name": "Platform SRE",
        "slug": "platform-sre",
        "timezone": "Europe/Paris",
        "services": ["API gateway", "Kubernetes cluster", "PostgreSQL cluster", "CI runners"],
        "problems": ["Connection pool exhaustion under burst traffic", "Node pressure evictions"],
    },
    {
        "name": "Payments Ops",
        "slug": "payments-ops",
        "timezone": "America/New_York",
        "services": ["Checkout", "Payment gateway", "Ledger"],
        "problems": ["Card processor timeouts", "Ledger reconciliation drift"],
    },
    {
        "name": "Data Platform",
        "slug": "data-platform",
        "timezone": "UTC",
        "services": ["Kafka", "Airflow", "Data warehouse"],
        "problems": ["Consumer lag after broker restarts"],
    },
]

USERS = [
    # username, full name, {team slug: role}
    ("alice", "Alice Martin", {"platform-sre": "lead"}),
    ("bob", "Bob Nguyen", {"platform-sre": "member"}),
    ("chloe", "Chloé Durand", {"payments-ops": "lead"}),
    ("david", "David Okafor", {"payments-ops": "member", "platform-sre": "viewer"}),
    ("emma", "Emma Schulz", {"data-platform": "lead"}),
    ("farid", "Farid Haddad", {"data-platform": "member", "payments-ops": "member"}),
]

SYMPTOMS = [
    "elevated 5xx on {s}",
    "{s} latency above SLO",
    "{s} unavailable in one zone",
    "{s} certificate expired",
    "disk full on {s} nodes",
    "{s} memory leak after deploy",
    "{s} failover did not trigger",
    "{s} config push broke routing",
    "{s} dependency timeouts",
    "{s} alert storm",
    "{s} degraded after upgrade",
    "{s} queue backlog growing",
    "DNS resolution failures towards {s}",
]
CHANGE_TITLES = [
    "Deploy {s} {v}",
    "Bump {s} base image",
    "Tune {s} autoscaling",
    "Rotate {s} credentials",
    "Enable feature flag on {s}",
    "Upgrade {s} dependencies",
    "Patch {s} CVE",
    "Resize {s} pool",
]
FACTORS = {
    FactorCategory.CHANGE: "A configuration change was rolled out to all zones at once.",
    FactorCategory.CAPACITY: "Headroom on the pool was below one zone's worth of traffic.",
    FactorCategory.DEPENDENCY: "An upstream dependency had no timeout budget.",
    FactorCategory.DETECTION: "The alert fired on an average that hid the tail latency.",
    FactorCategory.PROCESS: "The runbook step for failover was out of date.",
    FactorCategory.HUMAN_FACTORS: "The on-call engineer was paged for three unrelated alerts at once.",
    FactorCategory.UNKNOWN: "The trigger could not be identified from the logs kept.",
}
ACTION_IDEAS = [
    ("Add a canary stage to {s} deployments", Action.Kind.PREVENTIVE, FactorCategory.CHANGE),
    ("Alert on p99 latency of {s}, not the mean", Action.Kind.DETECTIVE, FactorCategory.DETECTION),
    ("Set client timeouts and retries with jitter on {s}", Action.Kind.CORRECTIVE, FactorCategory.DEPENDENCY),
    ("Keep 30% headroom on {s}", Action.Kind.PREVENTIVE, FactorCategory.CAPACITY),
    ("Rewrite the {s} failover runbook and rehearse it", Action.Kind.CORRECTIVE, FactorCategory.PROCESS),
    ("Route {s} alerts through one deduplicated page", Action.Kind.DETECTIVE, FactorCategory.HUMAN_FACTORS),
]
