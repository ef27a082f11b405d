"""Traffic for the traced sample app, for people who use Locust.

Same endpoints and weights as the Rust load generator (examples/src/loadgen/scenario.rs):

    locust -f examples/locustfile.py --headless --users 10 --spawn-rate 1 --run-time 30s -H http://127.0.0.1:5002

Request names are the app's route templates, so Locust's table lines up with the server spans.
"""

import random

from locust import HttpUser, between, task


class SampleAppUser(HttpUser):
    wait_time = between(1, 2)

    @task(2)
    def hello(self):
        self.client.get("/", name="GET /")

    @task(1)
    def ping(self):
        self.client.get("/ping", name="GET /ping")

    @task(5)
    def item(self):
        # Odd and even ids: even ones take the slow path and record demo.io_delay_seconds.
        item_id = random.randint(1, 100)
        self.client.get(f"/items/{item_id}?q=traced", name="GET /items/{item_id}")

    @task(2)
    def external_api(self):
        self.client.get("/external-api", name="GET /external-api")

    @task(2)
    def user(self):
        # Only ids the app's demo database holds.
        self.client.get(f"/users/{random.randint(1, 3)}", name="GET /users/{user_id}")

    @task(1)
    def exception(self):
        # Answers 500 by design; Locust counts it as a failure, as the Rust load generator does.
        self.client.get("/exception", name="GET /exception")
