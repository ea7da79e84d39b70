"""sansock_native: the real kernel, through CFFI."""
