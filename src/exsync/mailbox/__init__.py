"""The mailbox side: connectors for Microsoft 365 (Graph) mailboxes."""
