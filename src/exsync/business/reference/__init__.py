"""The reference business database: its schema (plain DDL per dialect) and a demo data generator."""
