"""/api/v1 routes for the pvt area (filled in by its owner)."""
from fastapi import APIRouter

router = APIRouter()
