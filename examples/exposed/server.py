"""The partially exposed class of the servers chapter (docs/servers.md), with REQUIRE_EXPOSE switched on."""

import pyro_server

pyro_server.config.REQUIRE_EXPOSE = True  # make @expose do something


class PyroService:
    value = 42  # not exposed

    def __dunder__(self):  # exposed
        return "dunder"

    def _private(self):  # not exposed
        pass

    def __private(self):  # not exposed
        pass

    def not_exposed(self):  # not exposed: no @expose
        pass

    @pyro_server.expose
    def get_value(self):  # exposed
        return self.value

    @pyro_server.expose
    @property
    def attr(self):  # exposed as 'proxy.attr' remote attribute
        return self.value

    @pyro_server.expose
    @attr.setter
    def attr(self, value):  # exposed as 'proxy.attr' writable
        self.value = value


daemon = pyro_server.Daemon()
print("uri=", daemon.register(PyroService), flush=True)
daemon.requestLoop()
