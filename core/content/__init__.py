"""What a reminder says: templates, SMS shape, masking of personal data, template lint."""
