"""Everything that installs and starts servers: the local Kafka broker and InfluxDB."""
