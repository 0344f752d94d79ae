"""The webhook receiver: awork and MOCO deliveries in, Prefect events out (`timebridge webhooks serve`)."""
