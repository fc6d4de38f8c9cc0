"""Builds the ASGI app: FastAPI routes, error rendering, and the rate-limit/fault middleware around them."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import admin, oauth, routes
from .emulator import Emulator, Settings
from .errors import ApiError
from .jsonio import ExactJSONResponse
from .middleware import EmulatorMiddleware


def _validation_error(_: Request, exc: RequestValidationError) -> ExactJSONResponse:
    """Bad path/query values answer 400 in the Grape style, not FastAPI's 422 detail list."""
    names = [str(err.get("loc", ["", "parameter"])[-1]) for err in exc.errors()]
    return ExactJSONResponse({"errors": ", ".join(f"{n} is invalid" for n in names) or "invalid request"},
                             status_code=400)


def _api_error(_: Request, exc: ApiError) -> ExactJSONResponse:
    return ExactJSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def _http_error(_: Request, exc: StarletteHTTPException) -> ExactJSONResponse:
    return ExactJSONResponse({"errors": str(exc.detail)}, status_code=exc.status_code,
                             headers=getattr(exc, "headers", None))


def build_fastapi(emu: Emulator) -> FastAPI:
    app = FastAPI(title="Procore API emulator", docs_url=None, redoc_url=None,
                  default_response_class=ExactJSONResponse)
    app.state.emu = emu
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.include_router(oauth.router)
    app.include_router(routes.router)
    app.include_router(admin.router)
    return app


def create_app(settings: Settings) -> Any:
    """The ASGI app uvicorn serves (state opened and seeded as needed)."""
    emu = Emulator(settings)
    return EmulatorMiddleware(build_fastapi(emu), emu)
