"""Scale bench: hundreds of low-rate RTSP cameras in one `citywatch run`, measured from outside."""
