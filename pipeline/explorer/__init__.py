"""The journey explorer: look a customer up live, see why each decision was made, review flagged cases.

Served by every worker's web server (pipeline/worker/app.py calls `register_explorer` and `register_review_routes`):
the lookup and overview APIs (api.py), the pure shaping of a customer's state and records into what the pages show
(views.py), this worker's rolling overview (overview.py), the review queue's API (reviews.py), and the static pages
(pages/: plain HTML, CSS and JavaScript, no build step).
"""

from __future__ import annotations

from pipeline.explorer.api import PUBLIC_PATHS, Explorer, register_explorer

__all__ = ["PUBLIC_PATHS", "Explorer", "register_explorer"]
