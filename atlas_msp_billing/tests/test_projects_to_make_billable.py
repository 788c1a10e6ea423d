from odoo.tests import tagged

from .common import MspBillingCase


@tagged("post_install", "-at_install")
class TestProjectsToMakeBillable(MspBillingCase):
    """sale_project makes customer projects billable by sale orders; the
    projects whose time this add-on bills, and service desks, stay as they are."""

    def test_msp_projects_are_left_alone(self):
        Project = self.env["project.project"]
        plain = Project.create({"name": "Kitchen remodel", "partner_id": self.customer.id})
        desk = Project.create(
            {"name": "Desk", "partner_id": self.customer.id, "msp_is_service_desk": True}
        )
        self.create_retainer()
        self.log_time(1.0, "2026-01-05")  # retainer time on self.project
        found = Project.search(Project._get_projects_to_make_billable_domain())
        self.assertIn(plain, found)
        self.assertNotIn(desk, found)
        self.assertNotIn(self.project, found)
        task_projects = self.env["project.task"]._read_group(
            self.env["project.task"]._get_projects_to_make_billable_domain(),
            [],
            ["project_id:recordset"],
        )[0][0]
        self.assertNotIn(self.project, task_projects)
        self.assertNotIn(desk, task_projects)
