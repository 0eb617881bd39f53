"""Citywatch's service side: the database of events and cases, and the FastAPI app over it.

`db` opens engines and sessions, `models` holds the ORM tables, `schemas` the API's request and
response models, `routes/` one router per resource, and `app.create_app` wires them together.
"""
