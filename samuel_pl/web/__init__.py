"""Browser demo: upload or record a vocal, get the accompaniment (``samuel serve``).

``samuel_pl.web.app.create_app`` builds the Starlette app (needs the ``serve`` extra).
"""

from samuel_pl.web.jobs import Job, JobQueue, QueueFull
from samuel_pl.web.limits import Limits, Rejected

__all__ = ["Job", "JobQueue", "Limits", "QueueFull", "Rejected"]
