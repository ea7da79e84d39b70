"""sansock_fake: an in-memory Linux kernel for unit tests."""
