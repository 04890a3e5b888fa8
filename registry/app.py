"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from registry import errors
from registry.auth.controller import AuthController
from registry.auth.deps import provide_registry
from registry.cases.catalogue_controller import ServiceController
from registry.cases.controller import CaseController, CommitmentController
from registry.context import Registry
from registry.federation.controller import FederationController, PeerCallController, TransferInController
from registry.federation.service import Refresher
from registry.holders.controller import HolderAuthController, MeController
from registry.http.headers import EdgeHeaders
from registry.http.problems import handle_exception, problem_type
from registry.licenses.batch_controller import BatchController
from registry.licenses.controller import LicenseController, LicenseTypeController
from registry.log.controller import LicenceLogProofController, LogController
from registry.log.service import Integrator
from registry.orgs.controller import DidController
from registry.settings import Settings
from registry.stats.controller import StatsController
from registry.trust.controller import TrustController
from registry.verify.controller import VerificationController
from registry.web import PAGE_CONTROLLERS, static_router, template_config


@get("/healthz", summary="Liveness and database reachability", tags=["ops"])
async def healthz(registry: NamedDependency[Registry]) -> Response[dict[str, str]]:
    try:
        await registry.db.ping()
    except Exception as exc:  # any driver error means "not ready"
        raise errors.ServiceUnavailable("数据库不可达 / Database unreachable") from exc
    return Response({"status": "ok", "database": registry.db.dialect})


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> Litestar:
    """Build the app; ``registry`` may be passed in by tests and the CLI so they share one container."""
    owned = registry is None
    reg = registry or Registry.from_settings(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # A server integrates the log's new entries in the background (tests call the endpoints, which
        # integrate what is waiting before they answer).
        loop = asyncio.get_running_loop()
        # And it keeps its peers' trust lists fresh on their schedule (registry.federation.service).
        background = [loop.create_task(Integrator().run(reg)), loop.create_task(Refresher().run(reg))] if owned else []
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if owned:
                await reg.close()

    return Litestar(
        route_handlers=[
            healthz,
            problem_type,
            AuthController,
            LicenseController,
            LicenseTypeController,
            BatchController,
            DidController,
            TrustController,
            VerificationController,
            HolderAuthController,
            MeController,
            ServiceController,
            CaseController,
            CommitmentController,
            StatsController,
            LogController,
            LicenceLogProofController,
            FederationController,
            PeerCallController,
            TransferInController,
            *PAGE_CONTROLLERS,
            static_router(),
        ],
        dependencies={"registry": Provide(provide_registry, sync_to_thread=False)},
        state=State({"registry": reg}),
        lifespan=[lifespan],
        exception_handlers={Exception: handle_exception},
        request_max_body_size=reg.settings.max_body_bytes,
        # The edges (registry.http): security, cache and CORS headers on every response. (The public rate limits
        # are guards on the controllers they cover: an app-wide guard cost every scan a copy of its handler.)
        before_send=[EdgeHeaders(reg.settings)],
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="电子证照库 Electronic Licence Registry",
            version="1.0.0",
            path="/schema",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Entry point for uvicorn workers (``registry.app:app_from_env`` with ``factory=True``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app()
    # Everything built so far (modules, templates, the app) lives as long as the worker: keep it out of the
    # collector's generations, so a full collection walks only what requests allocate.
    gc.freeze()
    return app
