"""Long-term-care benefits (노인장기요양보험): profiles, tariffs as data, pricing and statements."""
