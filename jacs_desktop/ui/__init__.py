"""Everything Qt lives here; core, storage and jobs never import it."""
