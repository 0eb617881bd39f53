"""Recordings in the application: what retention and the quota delete (`retention`, pure) and the
maintainer thread that applies it to the recordings directory (`maintainer`)."""
