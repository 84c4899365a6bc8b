"""django-pghistory's copy of the item: installed only on PostgreSQL (its history is made by triggers)."""
