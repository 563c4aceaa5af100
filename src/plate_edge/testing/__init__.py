"""Test tooling: a private Mosquitto broker (broker.Broker) and an MQTT watcher (watch.Watcher).

Used by the demo, the test suite and the benches; the daemon never imports it.
"""
