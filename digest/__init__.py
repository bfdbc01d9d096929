"""digest: a newsletter digest generator and mailer for political news."""

__version__ = "0.1.0"
