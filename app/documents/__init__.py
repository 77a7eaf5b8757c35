"""Documents made from data (see shared DESIGN.md): receipt and shift-report PDFs, their
fonts, and the site workbook. Pure functions of data in, bytes or rows out."""
