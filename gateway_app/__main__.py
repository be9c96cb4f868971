"""``python -m gateway_app``: serve the gateway until SIGTERM or Ctrl-C."""

from common.entrypoint import exit_on_config_error, load_settings
from gateway_app.app import SERVICE, create_app


def main() -> None:
    settings = load_settings(SERVICE)
    with exit_on_config_error(SERVICE):
        app = create_app(settings)
    app.run(
        host="0.0.0.0",  # noqa: S104 - the gateway is the public surface
        port=settings.http.port_for(SERVICE),
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
