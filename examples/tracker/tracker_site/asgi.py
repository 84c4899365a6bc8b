import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from streams.live.asgi import websockets  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets()})
