"""``python -m gateway_app``: serve the gateway until SIGTERM or Ctrl-C."""

import socket

from common.entrypoint import exit_on_config_error, load_settings
from gateway_app.app import SERVICE, create_app

HOST = "0.0.0.0"  # noqa: S104 - the gateway is the public surface


def main() -> None:
    settings = load_settings(SERVICE)
    with exit_on_config_error(SERVICE):
        app = create_app(settings)
    port = settings.http.port_for(SERVICE)
    if settings.http.reuse_port:
        # Several gateway processes on one port: the kernel spreads connections
        # among them, and one that dies takes only its own connections along.
        app.run(sock=shared_socket(port), single_process=True, access_log=False, motd=False)
        return
    app.run(host=HOST, port=port, single_process=True, access_log=False, motd=False)


def shared_socket(port: int) -> socket.socket:
    """A listening socket on ``port`` that other gateway processes may bind too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    main()
