"""The setup screen's toggles whose state reads without colour: candidate checkboxes and scope choices."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


class CandidateBox(Checkbox):
    """A checkbox whose state reads without colour: ``[x]`` ticked, ``[ ]`` not.

    Textual's own box draws an ``X`` in both states and tells them apart by colour alone, which a
    monochrome terminal, a colour-blind reader or a text capture of the screen cannot see.
    """

    @property
    def _button(self) -> Content:
        """The box, reflecting the current value (Textual's hook for the part before the label)."""
        return Content.assemble(("[x]" if self.value else "[ ]", self.get_visual_style("toggle--button")))


class ChoiceButton(RadioButton):
    """A radio button whose state reads without colour: ``(•)`` chosen, ``( )`` not (Textual draws ``●`` for both)."""

    @property
    def _button(self) -> Content:
        return Content.assemble(("(•)" if self.value else "( )", self.get_visual_style("toggle--button")))
