"""placeholder"""
from starlette.requests import Request
from starlette.responses import HTMLResponse


async def dashboard(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>x</p>")
async def job_page(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>x</p>")
