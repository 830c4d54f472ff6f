"""A real RTSP server on loopback for the network tests: Debian's GStreamer RTSP server (gst-rtsp-server
through python3-gi) serving an H.264 MP4 clip at its own pace, each client from the start of the clip.

Run with the *system* Python (python3-gi is a Debian package, not in the virtual environment):

    /usr/bin/python3 tests/rtsp_server.py CLIP PORT [--user NAME --password SECRET] [--only udp|tcp]

It prints "ready rtsp://127.0.0.1:PORT/clip" once it listens, and serves until it is killed. With --user
and --password a client must give them (basic authentication); with --only it offers RTP over that
transport alone (as cameras that answer any other with an error). A client's stream ends at the clip's end.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

PIPELINE = "( filesrc location={clip} ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--only", choices=("udp", "tcp"))
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(clip=args.clip))
    factory.set_shared(False)  # every client its own playback from the start
    if args.only:
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP if args.only == "udp" else GstRtsp.RTSPLowerTrans.TCP)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        for permission in (GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT):
            permissions.add_permission_for_role("viewer", permission, True)
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/clip", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{args.port}")
    print(f"ready rtsp://127.0.0.1:{args.port}/clip", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
