"""`render serve`: a REST API and a live dashboard over the spool (issue 12, docs/api.md).

A stateless view: every request reads the spool as `render status/hosts/log/tail --farm` do
(render_frontend/views.py, farmlog.py) and changes it as `render add/pause/...` do
(jobactions.py, submit.py, blend_add.py), as the user the service runs as.  Nothing is kept
between requests but the thumbnails, which are cached in the spool.

Modules: app (routes, middleware), settings, errors, auth, api_jobs, api_actions, api_submit,
api_chunks, api_hosts, api_files, api_frames, thumbnails, sse, openapi, pages (HTML), server
(uvicorn).  Starlette and uvicorn come with the `renderd[web]` extra; nothing else imports this
package."""
