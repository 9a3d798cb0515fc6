"""The device and app gateway: home hubs, connected devices and the patient's app post events over
HTTP with a credential bound to one patient; the gateway produces them to `ivig.events.v1`."""
