"""Reviews of completed matchings, and the caregiver ratings they keep exact."""
