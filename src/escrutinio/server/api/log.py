"""/api/v1 routes for the log area (filled in by its owner)."""
from fastapi import APIRouter

router = APIRouter()
