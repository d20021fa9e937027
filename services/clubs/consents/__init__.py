"""Members' consents to the purposes their data serves: given, withdrawn, and what follows."""
