"""Work beside the requests and the consumer loop: timed jobs, background threads, telling what the broker missed."""
