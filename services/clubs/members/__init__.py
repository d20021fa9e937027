"""Club members: memberships, the board, and bulk import of a club's member list.

- `rules.py`: every rule on a member's data, as pure functions (one place for each rule).
- `schemas.py`: what goes over the wire; the input models apply the per-field rules.
- `service.py`: the rules that need the database, and the writes (always audited).
- `tabular.py` and `importer.py`: reading CSV/XLSX member lists, the import and its CLI.
- `routes.py`: `/api/v1/clubs/{club_id}/members|board` and `/api/v1/members/{id}`.
"""
