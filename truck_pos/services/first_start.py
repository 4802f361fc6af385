"""First start: a register with no staff lets the person at the screen create the first manager."""

from __future__ import annotations

from truck_pos.errors import InvalidInput, NotAuthorized
from truck_pos.services.staff import StaffMember, StaffService
from truck_pos.store.models import Staff


class FirstStartService:
    """Only while nobody is on the staff list; after that staff are added by a manager (truck-pos-admin)."""

    def __init__(self, staff: StaffService):
        self.staff = staff

    def needed(self) -> bool:
        """True while the register has no staff at all."""
        return not Staff.select().exists()

    def create_manager(self, name: str, pin: str, pin_again: str, language: str = "en") -> StaffMember:
        """Create the first manager; the PIN is typed twice and must match."""
        if not self.needed():
            raise NotAuthorized("This register is already set up; ask a manager to add you")
        if pin != pin_again:
            raise InvalidInput("The two PINs are not the same")
        member = self.staff.add(name, pin, "manager", language=language)
        self.staff.audit("first_manager", staff=member, details={"name": member.name})
        return member
