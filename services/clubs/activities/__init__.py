"""A club's activities in the eight areas, its monthly meetings, and its coverage of the areas.

- `rules.py`: the rules on dates, periods, attendance and the coverage verdict, as pure functions.
- `schemas.py`: what goes over the wire; the input models apply the per-field rules.
- `service.py`: the rules that need the database, the writes (always audited), the coverage query.
- `routes.py`: `/api/v1/clubs/{club_id}/activities|meetings|coverage`.
"""
