"""The hub's web face: owner console and customer pages (Starlette + Jinja2, served by uvicorn).

``sync.hub.web.app.create_app`` builds the app; ``sync.hub.web.serve`` holds the commands. This
package file imports nothing, so the plain hub runs without the ``hub`` extra installed.
"""
