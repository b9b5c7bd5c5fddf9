"""HTML pages of the dashboard (filled in by its owner)."""
from fastapi import APIRouter

router = APIRouter()
