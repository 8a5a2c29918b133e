"""Built-in channel plugins: Twilio SMS and voice, FCM push, and the outbox."""
