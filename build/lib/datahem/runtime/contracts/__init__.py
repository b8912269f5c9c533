"""Contracts between the compiler and what runs in the cloud: one typed definition of each file and name both sides
read or write. The compiler imports these; they import nothing from datahem but the standard library."""
