"""Resource addressing for clients: the catalogue of :mod:`minik.api.kinds`, re-exported.

Components have always found ``PODS``, ``lookup`` and :class:`ResourceRef` here, next to the
REST client that uses them; the catalogue itself lives one layer down, in
:mod:`minik.api.kinds`, so that the API server reads the very same list.
"""

from __future__ import annotations

from minik.api.kinds import *  # noqa: F403  (this module *is* the catalogue, seen from the client)
from minik.api.kinds import __all__ as _catalogue
from minik.client.objects import group_of

__all__ = [*_catalogue, "group_of"]
